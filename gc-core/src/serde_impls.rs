//! `Serialize` and `Deserialize` (feature `serde`): a handle or cell serializes as its contents,
//! and deserializes by allocating a new object.
//!
//! Like serde's own `rc` feature, this is tree-shaped: an object reached twice is written twice
//! and read back as two objects, and a cycle recurses until the stack runs out. Graphs that need
//! their sharing kept want an explicit id table in the format.

use crate::cell::GcCell;
use crate::handle::Gc;
use crate::slot::GcSlot;
use crate::trace::Trace;
use serde::de::{Deserialize, Deserializer};
use serde::ser::{Error, Serialize, Serializer};

impl<T: ?Sized + Serialize + 'static> Serialize for Gc<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de, T: Deserialize<'de> + Trace + Send + Sync + 'static> Deserialize<'de> for Gc<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Gc<T>, D::Error> {
        T::deserialize(d).map(Gc::new)
    }
}

impl<'de> Deserialize<'de> for Gc<str> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Gc<str>, D::Error> {
        String::deserialize(d).map(Gc::from)
    }
}

impl<'de, T: Deserialize<'de> + Trace + Send + Sync + 'static> Deserialize<'de> for Gc<[T]> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Gc<[T]>, D::Error> {
        Vec::<T>::deserialize(d).map(Gc::from)
    }
}

impl<T: ?Sized + Serialize + Trace> Serialize for GcCell<T> {
    /// Fails (with the format's error) if the cell is mutably borrowed, as serializing a
    /// `RefCell` does.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.try_borrow() {
            Ok(v) => (*v).serialize(s),
            Err(_) => Err(S::Error::custom("GcCell is mutably borrowed")),
        }
    }
}

impl<'de, T: Deserialize<'de> + Trace> Deserialize<'de> for GcCell<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<GcCell<T>, D::Error> {
        T::deserialize(d).map(GcCell::new)
    }
}

impl<T: Serialize + Trace + Send + Sync + 'static> Serialize for GcSlot<T> {
    /// As an `Option` of the pointee.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de, T: Deserialize<'de> + Trace + Send + Sync + 'static> Deserialize<'de> for GcSlot<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<GcSlot<T>, D::Error> {
        Option::<Gc<T>>::deserialize(d).map(GcSlot::new)
    }
}
