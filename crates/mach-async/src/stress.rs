//! stress (todo)
