//! Placeholder, replaced by the scripted raw-frame server.
