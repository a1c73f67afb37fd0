//go:build chaos

package chaos_test

// defaultKills is how many times TestChaos kills keygate under the chaos
// build tag when neither -chaos.kills nor KEYGATE_CHAOS_KILLS says.
const defaultKills = 50
