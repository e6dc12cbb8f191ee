package xborder.exchange_test

import data.xborder.exchange

test_open_data_allowed if {
	exchange.decision.allow with input as {"resource": {"classification": "open"}, "purpose": "research"}
}

test_unknown_purpose_denied if {
	not exchange.decision.allow with input as {"resource": {"classification": "open"}, "purpose": "marketing"}
}
