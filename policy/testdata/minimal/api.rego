package xborder.api

default allow := false

allow if input.user.role == "operator"

allow if {
	input.method == "GET"
	input.path in {"/v1/status", "/v1/peers"}
}
