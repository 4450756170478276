// Package serviceaccount issues and checks the bound service-account tokens of
// the TokenRequest API: JWTs signed with the server's service-account key (ES256),
// with upstream's claims (iss, sub system:serviceaccount:<ns>:<name>, aud, exp,
// iat, nbf, jti and the kubernetes.io claim naming the namespace, the service
// account and the pod, secret or node the token is bound to).
//
// Issuing is a pure function of the bound objects and the time (NewClaims) plus a
// signature (Key.Sign). Checking a token (Authenticator) verifies signature,
// issuer, audience and lifetime against an injected clock, then looks the bound
// objects up again: a token outlives neither its service account nor the pod or
// secret it was bound to, as upstream's validator decides.
package serviceaccount
