//! Any bytes as an event document: normalisation gives messages or a reason, never a panic,
//! and the SQS fast path agrees with the general one.
#![no_main]

use bumpalo::Bump;
use libfuzzer_sys::fuzz_target;
use registrar_core::event::{normalise, normalise_text};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let arena = Bump::new();
    let fast = normalise_text(text, &arena);
    if let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) {
        let tree_arena = Bump::new();
        let tree = normalise(&doc, &tree_arena);
        assert_eq!(fast.is_ok(), tree.is_ok(), "{text}");
        if let (Ok(fast), Ok(tree)) = (fast, tree) {
            assert_eq!(fast, tree, "{text}");
        }
    }
});
