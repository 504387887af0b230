package clientcert

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"
)

// verify checks der chains to the configured CA bundle, for client
// authentication, at the current time.
func (cfg *Config) verify(der []byte) (time.Time, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		// crypto/x509 refuses some certificates Intune issues, as a URI SAN
		// of several URIs joined by commas ("<guid>,IntuneDeviceId://…"),
		// which this package reads: verify those from its own parse.
		if cert, err = leafForVerify(der); err != nil {
			return time.Time{}, fmt.Errorf("the client certificate could not be verified: %v", err)
		}
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: cfg.Roots, CurrentTime: now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return time.Time{}, fmt.Errorf("the client certificate is not issued by the configured CA: %v", err)
	}
	return cert.NotAfter, nil
}

// leafForVerify builds, from this package's own parse of der, the fields
// of an x509.Certificate that (*x509.Certificate).Verify reads of a leaf:
// the raw bytes and issuer, the signed TBSCertificate, the signature and
// its algorithm, the validity, the extended key usages and any critical
// extension it does not handle (which Verify then refuses). Verify itself
// finds the issuer among the roots by name and checks its signature over
// the TBSCertificate with the issuer's public key, the dates and the key
// usage, as for a certificate it parsed.
func leafForVerify(der []byte) (*x509.Certificate, error) {
	var c struct {
		TBS    asn1.RawValue
		SigAlg pkix.AlgorithmIdentifier
		Sig    asn1.BitString
	}
	if rest, err := asn1.Unmarshal(der, &c); err != nil || len(rest) > 0 {
		return nil, errors.New("the certificate is not valid DER")
	}
	var tbs tbsCertificate
	if rest, err := asn1.Unmarshal(c.TBS.FullBytes, &tbs); err != nil || len(rest) > 0 {
		return nil, errors.New("the certificate is not valid DER")
	}
	algo, ok := signatureAlgorithms[c.SigAlg.Algorithm.String()]
	if !ok {
		return nil, fmt.Errorf("signature algorithm %v is not supported", c.SigAlg.Algorithm)
	}
	var validity struct{ NotBefore, NotAfter time.Time }
	if rest, err := asn1.Unmarshal(tbs.Validity.FullBytes, &validity); err != nil || len(rest) > 0 {
		return nil, errors.New("the certificate's validity is malformed")
	}
	leaf := &x509.Certificate{
		Raw: der, RawTBSCertificate: c.TBS.FullBytes, RawIssuer: tbs.Issuer.FullBytes, RawSubject: tbs.Subject.FullBytes,
		Signature: c.Sig.RightAlign(), SignatureAlgorithm: algo,
		NotBefore: validity.NotBefore, NotAfter: validity.NotAfter,
	}
	for _, ext := range tbs.Extensions {
		switch {
		case ext.Id.Equal(oidEKU):
			var usages []asn1.ObjectIdentifier
			if rest, err := asn1.Unmarshal(ext.Value, &usages); err != nil || len(rest) > 0 {
				return nil, errors.New("the certificate's extended key usage is malformed")
			}
			for _, u := range usages {
				if eku, ok := extKeyUsages[u.String()]; ok {
					leaf.ExtKeyUsage = append(leaf.ExtKeyUsage, eku)
				} else {
					leaf.UnknownExtKeyUsage = append(leaf.UnknownExtKeyUsage, u)
				}
			}
		case ext.Critical && !handledCritical[ext.Id.String()]:
			leaf.UnhandledCriticalExtensions = append(leaf.UnhandledCriticalExtensions, ext.Id)
		}
	}
	return leaf, nil
}

var oidEKU = asn1.ObjectIdentifier{2, 5, 29, 37}

// signatureAlgorithms are the certificate signature algorithms (RFC 5758,
// RFC 4055, RFC 8410) by OID; RSA-PSS, whose parameters name the hash, is
// not among them.
var signatureAlgorithms = map[string]x509.SignatureAlgorithm{
	"1.2.840.113549.1.1.11": x509.SHA256WithRSA,
	"1.2.840.113549.1.1.12": x509.SHA384WithRSA,
	"1.2.840.113549.1.1.13": x509.SHA512WithRSA,
	"1.2.840.10045.4.3.2":   x509.ECDSAWithSHA256,
	"1.2.840.10045.4.3.3":   x509.ECDSAWithSHA384,
	"1.2.840.10045.4.3.4":   x509.ECDSAWithSHA512,
	"1.3.101.112":           x509.PureEd25519,
}

// extKeyUsages are the extended key usages Verify's key usage check reads.
var extKeyUsages = map[string]x509.ExtKeyUsage{
	"2.5.29.37.0":       x509.ExtKeyUsageAny,
	"1.3.6.1.5.5.7.3.1": x509.ExtKeyUsageServerAuth,
	"1.3.6.1.5.5.7.3.2": x509.ExtKeyUsageClientAuth,
}

// handledCritical are the critical extensions a leaf may carry: subject
// alternative names (read above), key usage, basic constraints and
// extended key usage, as crypto/x509 handles them.
var handledCritical = map[string]bool{"2.5.29.17": true, "2.5.29.15": true, "2.5.29.19": true, "2.5.29.37": true}
