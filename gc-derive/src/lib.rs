//! placeholder until the derive lands
