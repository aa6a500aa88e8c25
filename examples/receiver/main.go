// Command receiver is a local webhook receiver for trying webhookd: it prints every request it
// gets and checks its signatures with the given secrets, for each scheme webhookd signs with
// (X-Kheops-Signature, Nursa-Signature, Standard Webhooks' webhook-signature).
//
//	go run ./examples/receiver -addr 127.0.0.1:9000 -secrets s3cr3t
//	go run ./examples/receiver -addr 127.0.0.1:9443 -tls -secrets abc,def   # https, self-signed
//
// With -tls it writes its certificate to -cert (default /tmp/webhookd-receiver.pem); start
// webhookd with SSL_CERT_FILE pointing at that file so it trusts the receiver.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/webhookd/webhookd/delivery"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	secrets := flag.String("secrets", "", "comma-separated secrets to verify signatures with")
	useTLS := flag.Bool("tls", false, "serve https with a self-signed certificate")
	certFile := flag.String("cert", "/tmp/webhookd-receiver.pem", "where -tls writes its certificate")
	status := flag.Int("status", 200, "the status to answer with")
	flag.Parse()

	var keys []string
	for _, s := range strings.Split(*secrets, ",") {
		if s = strings.TrimSpace(s); s != "" {
			keys = append(keys, s)
		}
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("\n%s %s %s\n", time.Now().Format(time.TimeOnly), r.Method, r.URL.Path)
		for _, h := range []string{"User-Agent", "X-Kheops-Event", "X-Kheops-Attempt", "X-Kheops-Delivery", "X-Kheops-Signature",
			"Nursa-Signature", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"} {
			if v := r.Header.Get(h); v != "" {
				fmt.Printf("  %s: %s\n", h, v)
			}
		}
		fmt.Printf("  body: %s\n", body)
		for _, k := range keys {
			if sig := r.Header.Get(delivery.HeaderKheopsSignature); sig != "" {
				fmt.Printf("  X-Kheops-Signature with %q: %v\n", k, verdict(delivery.VerifyKheops(k, body, sig)))
			}
			if sig := r.Header.Get(delivery.HeaderNursaSignature); sig != "" {
				err := delivery.VerifyNursa(k, body, sig, time.Now(), delivery.DefaultTolerance)
				fmt.Printf("  Nursa-Signature with %q: %v\n", k, verdict(err == nil))
			}
			if sig := r.Header.Get(delivery.HeaderWebhookSignature); sig != "" {
				err := delivery.VerifyStandard(k, r.Header.Get(delivery.HeaderWebhookID), r.Header.Get(delivery.HeaderWebhookTimestamp),
					body, sig, time.Now(), delivery.DefaultTolerance)
				fmt.Printf("  webhook-signature with %q: %v\n", k, verdict(err == nil))
			}
		}
		w.WriteHeader(*status)
	})
	srv := &http.Server{Addr: *addr, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	if !*useTLS {
		log.Printf("receiving on http://%s", *addr)
		log.Fatal(srv.ListenAndServe())
	}
	cert, err := selfSigned(*certFile)
	if err != nil {
		log.Fatal(err)
	}
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	log.Printf("receiving on https://%s — start webhookd with SSL_CERT_FILE=%s", *addr, *certFile)
	log.Fatal(srv.ListenAndServeTLS("", ""))
}

func verdict(ok bool) string {
	if ok {
		return "valid"
	}
	return "INVALID"
}

// selfSigned makes a certificate for localhost and 127.0.0.1 and writes it (not the key) to path.
func selfSigned(path string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "webhookd receiver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(path, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}
