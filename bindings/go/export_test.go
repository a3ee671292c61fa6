package h2client

// PendingInformationalHooks is how many requests' 1xx hooks are registered (for the tests:
// none once every request is over).
func PendingInformationalHooks() int {
	hooks.Lock()
	defer hooks.Unlock()
	return len(hooks.m)
}

// ParkEveryWait makes every streaming wait park, also that of a call alone in flight (as
// H2CLIENT_GO_STREAMING=parked), until the returned function restores the setting.
func ParkEveryWait() (restore func()) {
	was := parkedStreams
	parkedStreams = true
	return func() { parkedStreams = was }
}

// BlockingStreams reports H2CLIENT_GO_STREAMING=blocking (waits hold OS threads).
func BlockingStreams() bool { return blockingStreams }
