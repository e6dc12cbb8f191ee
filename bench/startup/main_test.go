package main

import (
	"testing"
	"time"
)

func TestMeshTimeReadsTheDemosJSONProgress(t *testing.T) {
	out := []byte(`{"time":"2026-01-01T00:00:00Z","step":"mesh","status":"started"}
{"time":"2026-01-01T00:00:01Z","step":"mesh","status":"ok","count":5,"elapsed_ms":812.5}
{"time":"2026-01-01T00:00:01Z","step":"status","status":"started","node":"fr-grandest"}
`)
	d, err := meshTime(out)
	if err != nil || d != 812500*time.Microsecond {
		t.Fatalf("meshTime = %v, %v; want 812.5ms", d, err)
	}
	if _, err := meshTime([]byte(`{"step":"mesh","status":"failed","error":"no mesh"}` + "\n")); err == nil {
		t.Fatal("no ok line: want an error")
	}
	if _, err := meshTime([]byte("Full mesh: every node sees the other four, 12 ms after the processes started.\n")); err == nil {
		t.Fatal("prose: want an error")
	}
}
