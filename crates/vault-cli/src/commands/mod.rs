//! One module per command group; each is a thin shell over one library call or a few.

pub(crate) mod backup;
pub(crate) mod crypt;
pub(crate) mod eth;
pub(crate) mod key;
pub(crate) mod keyspace;
pub(crate) mod secret;
pub(crate) mod seed;
pub(crate) mod sign;
pub(crate) mod sync;
