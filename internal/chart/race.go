//go:build race

package chart

// raceEnabled: the race detector's runtime reserves far more address space
// than RLIMIT_AS allows, so a race-built child keeps the heap watchdog only.
const raceEnabled = true
