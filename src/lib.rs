//! permafrost
