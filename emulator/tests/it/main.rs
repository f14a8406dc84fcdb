//! The emulator's tests over real HTTP, one binary: each module is one part of what the emulator
//! serves, measured against docs/graph.md (at the workspace's top), and [`common`] is how they
//! all start an emulator and talk to it.

mod answers;
mod batch;
mod common;
mod faults;
mod journal;
mod phone_methods;
mod profile_phones;
mod sign_in;
mod throttling;
mod users;
