# A minimal bundle for the engine's own tests: open data is shared for any
# purpose in the vocabulary, everything else is denied.
package xborder.exchange

default decision := {"allow": false, "reasons": ["No rule allows this request."], "rules": ["default_deny"], "obligations": [], "max_validity_s": 0}

decision := {
	"allow": true,
	"reasons": ["Open data is shared with every member."],
	"rules": ["open_data"],
	"obligations": [],
	"max_validity_s": 86400,
} if {
	input.resource.classification == "open"
	data.data.purposes[input.purpose]
}
