package h2client

// PendingInformationalHooks is how many requests' 1xx hooks are registered (for the tests:
// none once every request is over).
func PendingInformationalHooks() int {
	hooks.Lock()
	defer hooks.Unlock()
	return len(hooks.m)
}
