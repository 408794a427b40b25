//! pets-synth
