package server

// WaitKeyFilter blocks until s has loaded the hashes of the stored keys,
// or failed to: only then is an unknown key refused without the store.
func (s *Server) WaitKeyFilter() { <-s.known.done }
