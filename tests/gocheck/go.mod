module gosvc.test/gocheck

go 1.26.0

require (
	github.com/distribution/reference v0.6.0
	golang.org/x/mod v0.43.0
)

require github.com/opencontainers/go-digest v1.0.0 // indirect
