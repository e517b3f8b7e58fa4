"""XEP-0313 message archive: stores room (and other component JIDs') messages, answers MAM queries."""
