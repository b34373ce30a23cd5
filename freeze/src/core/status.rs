//! PEP 795 freezability statuses.

/// Whether an object may be frozen (PEP 795 `set_freezable`).
///
/// An object's own status overrides its type's default: classes default to
/// `Explicit`, modules to `No`, everything else to `Yes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Freezability {
    /// May be frozen, also implicitly (reached from another object).
    Yes,
    /// May never be frozen; neither may anything that reaches it.
    No,
    /// May be frozen only when passed to `freeze` directly.
    Explicit,
    /// Modules only: a frozen reference resolves to the current worker's
    /// module of the same name.
    Proxy,
}

impl Freezability {
    pub(crate) fn bits(self) -> u32 {
        match self {
            Freezability::Yes => 1,
            Freezability::No => 2,
            Freezability::Explicit => 3,
            Freezability::Proxy => 4,
        }
    }

    pub(crate) fn from_bits(b: u32) -> Option<Freezability> {
        match b {
            1 => Some(Freezability::Yes),
            2 => Some(Freezability::No),
            3 => Some(Freezability::Explicit),
            4 => Some(Freezability::Proxy),
            _ => None,
        }
    }
}

impl Freezability {
    /// The name the `__freezable__` attribute holds (`"Yes"`, `"No"`,
    /// `"Explicit"`, `"Proxy"`).
    pub fn name(self) -> &'static str {
        match self {
            Freezability::Yes => "Yes",
            Freezability::No => "No",
            Freezability::Explicit => "Explicit",
            Freezability::Proxy => "Proxy",
        }
    }

    /// Parses a status name, ignoring ASCII case.
    pub fn from_name(s: &str) -> Option<Freezability> {
        [
            Freezability::Yes,
            Freezability::No,
            Freezability::Explicit,
            Freezability::Proxy,
        ]
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(s))
    }
}
