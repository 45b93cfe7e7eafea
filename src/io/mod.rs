//! Small, dependency-free readers and writers shared by native and web builds.

pub mod npy;
