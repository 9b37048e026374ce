//! Identity Platform / Firebase Auth blocking functions (`beforeCreate`, `beforeSignIn`).

pub mod certs;
pub mod hook;
pub mod token;

pub use hook::FirebaseHooks;
pub use token::EventType;
