package posture

// entraJoined requires isAadJoined. It reads the flag, not aadDeviceId:
// Defender reports a null aadDeviceId on joined devices
// (docs/defender-api.md#entra-device-id).
type entraJoined struct{}

func (entraJoined) Name() string { return "Must be Entra joined" }

func (entraJoined) Evaluate(in *Input) Outcome {
	if r, ok := defenderGate(in); ok {
		return unknown(r)
	}
	if in.Device.IsAADJoined {
		return passed
	}
	return fail("not Entra joined, required Entra joined" + dataSuffix(in))
}
