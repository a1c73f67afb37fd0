//go:build !chaos

package chaos_test

// defaultKills is how many times TestChaos kills keygate when neither
// -chaos.kills nor KEYGATE_CHAOS_KILLS says: a short run for CI.
const defaultKills = 3
