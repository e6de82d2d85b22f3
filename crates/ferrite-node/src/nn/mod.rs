//! Exports of the neural-network ops, one file per family as in the core.

mod activation;
mod conv;
mod dropout;
mod linear;
mod loss;
mod norm;
mod pool;
