# Tests of api_identity.rego: which role an identity from an identity
# provider gets.
package xborder.api_identity_test

import data.xborder.api

ls_login := "https://login.aai.lifescience-ri.eu/oidc/"

myaccessid := "https://proxy.myaccessid.org/"

role_of(identity) := r if {
	r := api.role with input as {"identity": identity}
}

id(issuer, entitlements, affiliation) := {
	"issuer": issuer,
	"subject": "a1b2c3@lifescience-ri.eu",
	"email": "ada@uni-freiburg.de",
	"groups": [],
	"entitlements": entitlements,
	"affiliation": affiliation,
}

test_ls_login_entitlement_researcher if {
	role_of(id(ls_login, ["urn:geant:lifescience-ri.eu:group:xborder:researchers#aai.lifescience-ri.eu"], [])) == "researcher"
}

test_myaccessid_entitlements_auditor_and_legal if {
	role_of(id(myaccessid, ["urn:geant:myaccessid.org:group:xborder:auditors#myaccessid.org"], [])) == "auditor"
	role_of(id(myaccessid, ["urn:geant:myaccessid.org:group:xborder:legal#myaccessid.org"], [])) == "legal"
}

test_staff_of_a_listed_university_is_a_researcher if {
	role_of(id(myaccessid, [], ["staff@uni-freiburg.de"])) == "researcher"
	role_of(id(myaccessid, [], ["member@uni-freiburg.de", "faculty@unibas.ch"])) == "researcher"
	role_of(id(ls_login, [], ["employee@kit.edu"])) == "researcher"
}

test_members_students_and_other_organisations_get_no_role if {
	role_of(id(myaccessid, [], ["member@uni-freiburg.de"])) == ""
	role_of(id(myaccessid, [], ["student@uni-freiburg.de"])) == ""
	role_of(id(myaccessid, [], ["affiliate@uni-freiburg.de"])) == ""
	role_of(id(myaccessid, [], ["staff@example.org"])) == ""
	role_of(id(myaccessid, [], ["staff@evil.uni-freiburg.de"])) == ""
	role_of(id(myaccessid, [], ["staff@uni-freiburg.de@example.org"])) == ""
	role_of(id(myaccessid, [], ["staff"])) == ""
}

test_untrusted_issuer_gets_no_role_whatever_it_claims if {
	role_of(id("https://idp.example.org/", ["urn:geant:lifescience-ri.eu:group:xborder:researchers#aai.lifescience-ri.eu"], ["staff@uni-freiburg.de"])) == ""
	role_of(id("https://login.aai.lifescience-ri.eu/oidc", ["urn:geant:lifescience-ri.eu:group:xborder:researchers#aai.lifescience-ri.eu"], [])) == ""
}

test_unknown_or_near_entitlements_give_no_role if {
	role_of(id(ls_login, ["urn:geant:lifescience-ri.eu:group:xborder:researchers:admins#aai.lifescience-ri.eu"], [])) == ""
	role_of(id(ls_login, ["urn:geant:lifescience-ri.eu:group:xborder:operators#aai.lifescience-ri.eu"], [])) == ""
	role_of(id(ls_login, ["urn:mace:dir:entitlement:common-lib-terms"], [])) == ""
}

test_entitlement_beats_affiliation_and_precedence_decides if {
	role_of(id(ls_login, ["urn:geant:lifescience-ri.eu:group:xborder:auditors#aai.lifescience-ri.eu"], ["staff@uni-freiburg.de"])) == "auditor"
	role_of(id(
		ls_login, [
			"urn:geant:lifescience-ri.eu:group:xborder:researchers#aai.lifescience-ri.eu",
			"urn:geant:lifescience-ri.eu:group:xborder:legal#aai.lifescience-ri.eu",
		],
		[],
	)) == "legal"
}

test_groups_of_a_listed_issuer if {
	keycloak := "https://keycloak.region.example/realms/xborder"
	r := api.role with input as {"identity": {"issuer": keycloak, "groups": ["xborder-legal", "staff"]}}
		with api.trusted_issuers as {keycloak: "the region's Keycloak"}
		with api.group_roles as {keycloak: {"xborder-legal": "legal"}}
	r == "legal"

	# The same group name from another issuer means nothing.
	other := api.role with input as {"identity": {"issuer": ls_login, "groups": ["xborder-legal"]}}
		with api.group_roles as {keycloak: {"xborder-legal": "legal"}}
	other == ""
}

test_malformed_identities_get_no_role if {
	role_of({}) == ""
	role_of({"issuer": ls_login}) == ""
	role_of({"issuer": ls_login, "entitlements": "urn:geant:lifescience-ri.eu:group:xborder:researchers#aai.lifescience-ri.eu"}) == ""
	role_of({"issuer": ls_login, "affiliation": [7, null, {"a": 1}, "staff@kit.edu"]}) == "researcher"
	role_of({"issuer": 7, "affiliation": ["staff@kit.edu"]}) == ""
	r := api.role with input as {"user": {"role": "operator"}}
	r == ""
}

test_every_mapped_role_is_a_role_of_the_api if {
	every _, r in api.entitlement_roles {
		r in api.roles
	}
	every r in api.role_precedence {
		r in api.roles
	}
}

test_a_refusal_says_why if {
	untrusted := api.role_reasons with input as {"identity": {"issuer": "https://idp.elsewhere.example", "affiliation": ["staff@kit.edu"]}}
	untrusted == {"this node's policy does not trust identities from https://idp.elsewhere.example"}

	student := api.role_reasons with input as {"identity": {"issuer": ls_login, "affiliation": ["student@kit.edu"]}}
	student == {"none of the identity's entitlements, groups or affiliations gives a role at this node"}

	researcher := api.role_reasons with input as {"identity": {"issuer": ls_login, "affiliation": ["staff@kit.edu"]}}
	count(researcher) == 0

	unnamed := api.role_reasons with input as {}
	unnamed == {"this node's policy does not trust identities from an unnamed issuer"}
}

test_an_entitlement_counts_only_from_its_own_authority if {
	# MyAccessID asserting LS Login's group, and the other way round.
	role_of({"issuer": "https://proxy.myaccessid.org/", "entitlements": ["urn:geant:lifescience-ri.eu:group:xborder:legal#aai.lifescience-ri.eu"]}) == ""
	role_of({"issuer": ls_login, "entitlements": ["urn:geant:myaccessid.org:group:xborder:legal#myaccessid.org"]}) == ""
	role_of({"issuer": "https://proxy.myaccessid.org/", "entitlements": ["urn:geant:myaccessid.org:group:xborder:legal#myaccessid.org"]}) == "legal"

	# A region's own trusted issuer cannot hand out either.
	keycloak := "https://keycloak.region.example/realms/xborder"
	r := api.role with input as {"identity": {"issuer": keycloak, "entitlements": ["urn:geant:lifescience-ri.eu:group:xborder:legal#aai.lifescience-ri.eu"]}}
		with api.trusted_issuers as {keycloak: "the region's Keycloak"}
	r == ""

	# Two "#"s: no authority to match.
	role_of({"issuer": ls_login, "entitlements": ["urn:geant:lifescience-ri.eu:group:xborder:legal#aai.lifescience-ri.eu#x"]}) == ""
}
