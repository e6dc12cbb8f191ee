package dsp

import (
	"testing"
	"time"
)

func TestAgreementValidUntilReadsTheElapsedTime(t *testing.T) {
	at := "2026-12-07T10:00:00Z"
	base, _ := time.Parse(time.RFC3339, at)
	for _, tc := range []struct {
		rule Rule
		want time.Time
	}{
		{Rule{Action: ActionUse, Constraint: []Constraint{{LeftOperand: LeftElapsedTime, Operator: "lteq", RightOperand: "P30D"}}}, base.AddDate(0, 0, 30)},
		{Rule{Action: ActionUse, Constraint: []Constraint{{LeftOperand: LeftElapsedTime, Operator: "lteq", RightOperand: "PT90S"}}}, base.Add(90 * time.Second)},
		{Rule{Action: ActionUse, Constraint: []Constraint{{LeftOperand: LeftPurpose, Operator: "eq", RightOperand: "research"}}}, time.Time{}},
		{Rule{Action: ActionUse, Constraint: []Constraint{{LeftOperand: LeftElapsedTime, Operator: "lteq", RightOperand: "P1Y"}}}, time.Time{}},
	} {
		got := agreementValidUntil(Agreement{Timestamp: at, Permission: []Rule{tc.rule}})
		if !got.Equal(tc.want) {
			t.Errorf("%+v: %v, want %v", tc.rule.Constraint, got, tc.want)
		}
	}
	if got := agreementValidUntil(Agreement{Timestamp: "yesterday"}); !got.IsZero() {
		t.Errorf("a timestamp that is not RFC 3339: %v", got)
	}
	if isoDuration(30*86400) != "P30D" || isoDuration(90) != "PT90S" {
		t.Error("isoDuration does not write what agreementValidUntil reads")
	}
}
