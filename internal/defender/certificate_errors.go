package defender

// FieldCertificate is the Manage dialog's certificate field, where
// refusals of a certificate are shown.
const FieldCertificate = "certificate_pem"

// Reasons of refused certificate credentials.
const (
	CertificateRefused Reason = "certificate_refused"
	AssertionRejected  Reason = "assertion_rejected"
)

// certificateErrorFor maps Entra's refusals of a client assertion; nil
// for codes that concern no certificate.
func certificateErrorFor(code int) *Error {
	switch code {
	case 700027, 50013, 50027:
		// 700027: the certificate named by x5t#S256 is not registered on
		// the app, has expired there, or the signature does not verify
		// (50013 is its older code; 50027 a JWT Entra cannot read).
		return &Error{Reason: CertificateRefused, Field: FieldCertificate, Help: HelpCertificate,
			Message: "Microsoft refused the certificate: it is not uploaded to this app, has expired there, or does not match the private key. In the Entra admin center open the app's Certificates & secrets → Certificates, upload the certificate Postern shows (compare the thumbprint), then save again."}
	case 700024:
		return &Error{Reason: AssertionRejected, Help: HelpCertificate,
			Message: "Microsoft says Postern's signed sign-in request is outside its valid time, so this server's clock is wrong. Set the clock right (NTP), then save again."}
	case 50012, 700023, 50048:
		return &Error{Reason: AssertionRejected, Help: HelpCertificate,
			Message: "Microsoft did not accept Postern's signed sign-in request for this app. Check the Client ID, and the Cloud setting under Advanced."}
	}
	return nil
}
