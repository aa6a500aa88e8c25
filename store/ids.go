package store

import (
	"crypto/rand"
)

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Lengths of the random identifiers, as Kheops draws them.
const (
	AlbumIDLength    = 10
	WebhookIDLength  = 20
	DeliveryIDLength = 30
	SecretLength     = 32
)

// RandomString returns n characters of [A-Za-z0-9] drawn uniformly from a cryptographic source.
func RandomString(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
		}
		for _, b := range buf {
			// 62*4 = 248: reject the top 8 values so every character is equally likely.
			if b < 248 && len(out) < n {
				out = append(out, idAlphabet[b%62])
			}
		}
	}
	return string(out)
}
