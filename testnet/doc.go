// Package testnet holds the five-country Docker testnet's scenario tests and
// benchmarks. They run against containers started by `make testnet` and are
// built only with the testnet build tag:
//
//	make testnet-test
//	go test -tags testnet -run Scenario5 ./testnet/
//
// See testnet/README.md.
package testnet
