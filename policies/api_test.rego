# Tests of api.rego: who may call which endpoint of the local API.
package xborder.api_test

import data.xborder.api

user(r) := {"sub": "someone@example.org", "role": r, "org": "Région Grand Est"}

call(r, method, path) := d if {
	d := api.decision with input as {"user": user(r), "method": method, "path": path}
}

may(r, method, path) if {
	api.allow with input as {"user": user(r), "method": method, "path": path}
}

reasons(r, method, path) := s if {
	s := api.reasons with input as {"user": user(r), "method": method, "path": path}
}

test_every_role_reads_status_and_peers if {
	every r in ["operator", "researcher", "legal", "auditor"] {
		may(r, "GET", "/v1/status")
		may(r, "GET", "/v1/peers")
		may(r, "GET", "/v1/whoami")
	}
	d := call("auditor", "GET", "/v1/peers")
	d.rules == ["every_role"]
	d.reasons == ["Every role may call GET /v1/peers."]
	d.obligations == []
	d.max_validity_s == 0
}

test_operator_calls_everything if {
	may("operator", "POST", "/v1/policy/reload")
	may("operator", "POST", "/v1/analyses")
	may("operator", "DELETE", "/v1/tokens/abc")
	may("operator", "GET", "/v1/audit/verify")
	d := call("operator", "POST", "/v1/policy/reload")
	d.rules == ["operator"]
	d.reasons == ["The operator role may call every endpoint, including POST /v1/policy/reload."]
	reasons("operator", "POST", "/v1/policy/reload") == set()
}

test_researcher_permissions if {
	may("researcher", "GET", "/v1/catalogue")
	may("researcher", "GET", "/v1/catalogue/fr-grandest/icu-admissions-2025")
	may("researcher", "GET", "/v1/projects")
	may("researcher", "GET", "/v1/projects/fr-de-oncology")
	may("researcher", "GET", "/v1/agreements/agr-1")
	may("researcher", "GET", "/v1/grants")
	may("researcher", "POST", "/v1/requests")
	may("researcher", "POST", "/v1/fetch")
	may("researcher", "GET", "/v1/transfers")
	may("researcher", "GET", "/v1/transfers/t-1/content")
	may("researcher", "get", "/v1/catalogue")
	may("researcher", "POST", "/v1/analyses")
	may("researcher", "GET", "/v1/analyses")
	may("researcher", "GET", "/v1/analyses/an-1")
	may("researcher", "POST", "/v1/analyses/verify")
	d := call("researcher", "POST", "/v1/requests")
	d.rules == ["researcher_role"]
	d.reasons == ["The researcher role may call POST /v1/requests."]
}

test_researcher_refusals if {
	not may("researcher", "POST", "/v1/policy/reload")
	reasons("researcher", "POST", "/v1/policy/reload") == {"The researcher role may not call POST /v1/policy/reload."}
	d := call("researcher", "POST", "/v1/policy/reload")
	d.allow == false
	d.rules == ["not_permitted"]
	d.reasons == ["The researcher role may not call POST /v1/policy/reload."]
	not may("researcher", "GET", "/v1/audit")
	not may("researcher", "GET", "/v1/policy")
	not may("researcher", "POST", "/v1/catalogue")
	not may("researcher", "GET", "/v1/grants/g-1")
	not may("researcher", "GET", "/v1/catalogues")
	not may("researcher", "DELETE", "/v1/transfers/t-1")
	not may("researcher", "DELETE", "/v1/projects/fr-de-oncology")
	not may("researcher", "POST", "/v1/analyses/an-1")
	not may("researcher", "DELETE", "/v1/analyses/an-1")
	not may("researcher", "GET", "/v1/analysesx")
}

test_legal_permissions if {
	may("legal", "GET", "/v1/policy")
	may("legal", "GET", "/v1/policy/files/exchange.rego")
	may("legal", "GET", "/v1/policy/peers")
	may("legal", "POST", "/v1/policy/reload")
	may("legal", "POST", "/v1/policy/eval")
	may("legal", "GET", "/v1/projects")
	may("legal", "GET", "/v1/agreements/agr-1")
	d := call("legal", "POST", "/v1/policy/reload")
	d.rules == ["legal_role"]
	d.reasons == ["The legal role may call POST /v1/policy/reload."]
}

test_legal_refusals if {
	not may("legal", "POST", "/v1/policy")
	not may("legal", "GET", "/v1/catalogue")
	not may("legal", "POST", "/v1/requests")
	not may("legal", "GET", "/v1/audit")
	not may("legal", "GET", "/v1/grants")
	reasons("legal", "POST", "/v1/requests") == {"The legal role may not call POST /v1/requests."}
	not may("legal", "POST", "/v1/analyses")
	not may("legal", "GET", "/v1/analyses")
}

test_auditor_permissions if {
	may("auditor", "GET", "/v1/audit")
	may("auditor", "GET", "/v1/audit/verify")
	may("auditor", "GET", "/v1/projects/fr-de-oncology")
	may("auditor", "GET", "/v1/agreements")
	may("auditor", "GET", "/v1/grants")
	may("auditor", "GET", "/v1/policy/peers")
	may("auditor", "GET", "/v1/transfers")
	may("auditor", "HEAD", "/v1/audit")
	may("auditor", "GET", "/v1/analyses")
	may("auditor", "GET", "/v1/analyses/an-1")
	may("auditor", "POST", "/v1/analyses/verify")
	call("auditor", "GET", "/v1/audit/verify").rules == ["auditor_role"]
}

test_auditor_refusals if {
	not may("auditor", "POST", "/v1/audit")
	not may("auditor", "GET", "/v1/transfers/t-1/content")
	not may("auditor", "POST", "/v1/policy/reload")
	not may("auditor", "GET", "/v1/policy")
	not may("auditor", "GET", "/v1/catalogue")
	not may("auditor", "POST", "/v1/fetch")
	reasons("auditor", "POST", "/v1/fetch") == {"The auditor role may not call POST /v1/fetch."}
	not may("auditor", "POST", "/v1/analyses")
}

test_path_traversal_refused if {
	not may("researcher", "POST", "/v1/policy/../requests/../policy/reload")
	not may("researcher", "GET", "/v1/catalogue/../policy")
	not may("researcher", "GET", "/v1/catalogue/./x")
	not may("researcher", "GET", "/v1//catalogue")
	not may("researcher", "GET", "v1/catalogue")
	d := call("researcher", "GET", "/v1/catalogue/../audit")
	d.rules == ["not_permitted", "path_not_canonical"]
	d.reasons == [
		"The researcher role may not call GET /v1/catalogue/../audit.",
		`The path "/v1/catalogue/../audit" is not in canonical form (it must start with / and have no empty, . or .. segments).`,
	]
}

test_unknown_role_refused if {
	not may("admin", "GET", "/v1/status")
	d := call("admin", "GET", "/v1/status")
	d.rules == ["unknown_role"]
	d.reasons == [`The role "admin" is none of operator, researcher, legal and auditor, so it may call no endpoint.`]
}

test_missing_user_refused if {
	d := api.decision with input as {"method": "GET", "path": "/v1/status"}
	d.allow == false
	d.rules == ["unknown_role"]
	why := api.reasons with input as {"method": "GET", "path": "/v1/status"}
	why == {`The role "" is none of operator, researcher, legal and auditor, so it may call no endpoint.`}
}

test_empty_input_refused if {
	not api.allow with input as {}
}

test_non_string_method_refused if {
	d := call("researcher", 5, "/v1/status")
	d.reasons == ["The researcher role may not call  /v1/status."]
}

# The tables are written as the allow rules expect: methods in capitals (HEAD
# is never listed, it counts as GET) and canonical paths.
test_tables_list_capital_methods_and_canonical_paths if {
	tables := array.concat([api.every_role], [t | some t in api.permissions])
	every table in tables {
		every m, paths in table {
			m == upper(m)
			m != "HEAD"
			every p, scope in paths {
				api.canonical with input as {"path": p}
				scope in {"only", "and below"}
			}
		}
	}
}

test_head_and_lower_case_methods if {
	may("researcher", "HEAD", "/v1/status")
	may("researcher", "head", "/v1/catalogue/x")
	may("auditor", "Get", "/v1/grants")
	not may("researcher", "HEAD", "/v1/requests")
	not may("legal", "post", "/v1/policy/files")
}

test_non_string_path_refused if {
	d := call("researcher", "GET", 5)
	d.rules == ["not_permitted", "path_not_canonical"]
	d.reasons == [
		"The researcher role may not call GET .",
		`The path "" is not in canonical form (it must start with / and have no empty, . or .. segments).`,
	]
}

test_every_role_paths_and_below if {
	docs := {"GET": {"/v1/docs": "and below"}}
	api.allow with input as {"user": user("auditor"), "method": "GET", "path": "/v1/docs/api"} with api.every_role as docs
	d := api.decision with input as {"user": user("auditor"), "method": "HEAD", "path": "/v1/docs/api"} with api.every_role as docs
	d.rules == ["every_role"]
	d.reasons == ["Every role may call HEAD /v1/docs/api."]
	not api.allow with input as {"user": user("auditor"), "method": "GET", "path": "/v1/docs/../audit"} with api.every_role as docs
}

test_modules_and_evaluations if {
	# Researchers and auditors read the modules and the committed
	# evaluations; legal teams read the modules they review.
	every r in ["researcher", "auditor"] {
		may(r, "GET", "/v1/modules")
		may(r, "GET", "/v1/modules/upper-rhine/3f0c")
		may(r, "GET", "/v1/evaluations")
	}
	may("legal", "GET", "/v1/modules/upper-rhine/3f0c")
	not may("legal", "GET", "/v1/evaluations")

	# Proposing, approving and withdrawing a module are the operator's
	# registry writes.
	every r in ["researcher", "legal", "auditor"] {
		not may(r, "POST", "/v1/modules")
		not may(r, "POST", "/v1/modules/upper-rhine/3f0c/approve")
		not may(r, "POST", "/v1/modules/upper-rhine/3f0c/withdraw")
	}
	may("operator", "POST", "/v1/modules/upper-rhine/3f0c/approve")
}

# A backup holds the node's key and every store: only an operator takes one.
test_only_operators_take_backups if {
	may("operator", "POST", "/v1/backup")
	every r in ["researcher", "legal", "auditor", "stranger", ""] {
		not may(r, "POST", "/v1/backup")
		not may(r, "GET", "/v1/backup")
		not may(r, "POST", "/v1/backup/x")
	}
}

# Console sessions name who is signed in and ending one signs its user out:
# only an operator lists or revokes them.
test_only_operators_list_and_revoke_console_sessions if {
	may("operator", "GET", "/v1/sessions")
	may("operator", "DELETE", "/v1/sessions/5f0c")
	every r in ["researcher", "legal", "auditor", "stranger", ""] {
		not may(r, "GET", "/v1/sessions")
		not may(r, "DELETE", "/v1/sessions/5f0c")
		not may(r, "GET", "/v1/sessions/5f0c")
	}
}

# Taking data from a dataspace (the Dataspace Protocol, consumer side):
# researchers and operators browse providers' catalogues, negotiate
# contracts and start transfers; auditors read the negotiations and
# transfers, legal teams the negotiations.
test_dataspace_consumer_endpoints if {
	every r in ["researcher", "operator"] {
		may(r, "POST", "/v1/dsp/catalogue")
		may(r, "POST", "/v1/dsp/negotiations")
		may(r, "POST", "/v1/dsp/transfers")
		may(r, "GET", "/v1/dsp/negotiations")
		may(r, "GET", "/v1/dsp/negotiations/urn:uuid:neg-1")
		may(r, "GET", "/v1/dsp/transfers")
		may(r, "HEAD", "/v1/dsp/transfers/urn:uuid:tp-1/content")
	}
	d := call("researcher", "POST", "/v1/dsp/negotiations")
	d.rules == ["researcher_role"]
	d.reasons == ["The researcher role may call POST /v1/dsp/negotiations."]

	may("auditor", "GET", "/v1/dsp/negotiations/urn:uuid:neg-1")
	may("auditor", "GET", "/v1/dsp/transfers/urn:uuid:tp-1")
	may("legal", "GET", "/v1/dsp/negotiations")
	may("legal", "GET", "/v1/dsp/negotiations/urn:uuid:neg-1")
	not may("legal", "GET", "/v1/dsp/transfers")

	every r in ["legal", "auditor"] {
		not may(r, "POST", "/v1/dsp/catalogue")
		not may(r, "POST", "/v1/dsp/negotiations")
		not may(r, "POST", "/v1/dsp/transfers")
	}

	# "only": what lies under a POST path is not granted with it, and
	# nothing escapes the tree with "..".
	not may("researcher", "POST", "/v1/dsp/negotiations/urn:uuid:neg-1/terminate")
	not may("researcher", "POST", "/v1/dsp/catalogue/x")
	not may("researcher", "GET", "/v1/dsp/catalogue")
	not may("researcher", "GET", "/v1/dsp/negotiations/../../policy")
	not may("legal", "GET", "/v1/dsp/negotiations/../transfers")
	every r in ["stranger", ""] {
		not may(r, "GET", "/v1/dsp/negotiations")
		not may(r, "POST", "/v1/dsp/catalogue")
	}
	r := call("auditor", "POST", "/v1/dsp/transfers")
	r.rules == ["not_permitted"]
	r.reasons == ["The auditor role may not call POST /v1/dsp/transfers."]
}
