package server

import (
	"errors"
)

// newProxy returns the handler that proxies a route to its upstream.
func (s *Server) newProxy(rt Route) (keyHandler, error) {
	return nil, errors.New("server: proxying is not implemented yet")
}
