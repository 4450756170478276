// Package review serves the create-only review APIs kubectl's `auth` commands
// and other servers use: authorization.k8s.io/v1 SelfSubjectAccessReview,
// SubjectAccessReview, LocalSubjectAccessReview and SelfSubjectRulesReview,
// and authentication.k8s.io/v1 SelfSubjectReview and TokenReview. Nothing is
// stored: each answers from the server's authenticator and authorizer.
package review
