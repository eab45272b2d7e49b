//! Feature `serde`: handles, cells and slots serialize as their contents and deserialize into
//! new objects that the collector then manages like any other.

use serde::{Deserialize, Serialize};
use tricolor_gc::{collect, Finalize, Gc, GcCell, GcSlot, Trace};

#[derive(Trace, Finalize, Serialize, Deserialize)]
struct Doc {
    title: Gc<str>,
    tags: Gc<[Gc<str>]>,
    sections: GcCell<Vec<Gc<Section>>>,
    pinned: GcSlot<Section>,
}

#[derive(Trace, Finalize, Serialize, Deserialize, Debug, PartialEq)]
struct Section {
    heading: String,
    words: u32,
}

const JSON: &str = r#"{"title":"GC","tags":["rust","go"],"sections":[{"heading":"mark","words":3},{"heading":"sweep","words":5}],"pinned":{"heading":"pacer","words":8}}"#;

#[test]
fn a_graph_round_trips_through_json_and_survives_collection() {
    let doc: Gc<Doc> = Gc::new(serde_json::from_str(JSON).expect("valid document"));
    // The deserialized handles inside the document are not roots; the document keeps them.
    assert!(doc.sections.borrow().iter().all(|s| !Gc::is_root(s)));
    for _ in 0..3 {
        collect();
    }
    assert_eq!(&*doc.title, "GC");
    assert_eq!(&*doc.tags[1], "go");
    assert_eq!(doc.sections.borrow()[1].words, 5);
    assert_eq!(doc.pinned.get().unwrap().heading, "pacer");
    assert_eq!(serde_json::to_string(&doc).unwrap(), JSON);
}

#[test]
fn an_empty_slot_is_null() {
    let s: GcSlot<Section> = GcSlot::new(None);
    assert_eq!(serde_json::to_string(&s).unwrap(), "null");
    let back: GcSlot<Section> = serde_json::from_str("null").unwrap();
    assert!(back.get().is_none());
}

#[test]
fn a_mutably_borrowed_cell_reports_an_error() {
    let c = Gc::new(GcCell::new(vec![1u8, 2]));
    let guard = c.borrow_mut();
    let err = serde_json::to_string(&c).unwrap_err();
    assert!(err.to_string().contains("mutably borrowed"), "{err}");
    drop(guard);
    assert_eq!(serde_json::to_string(&c).unwrap(), "[1,2]");
}

#[test]
fn sharing_is_not_preserved() {
    let s = Gc::new(Section {
        heading: "x".into(),
        words: 1,
    });
    let pair = Gc::new((s.clone(), s));
    let text = serde_json::to_string(&pair).unwrap();
    let back: Gc<(Gc<Section>, Gc<Section>)> = serde_json::from_str(&text).unwrap();
    assert_eq!(back.0, back.1);
    assert!(
        !Gc::ptr_eq(&back.0, &back.1),
        "two objects after a round trip"
    );
}
