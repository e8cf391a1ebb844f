//! Audio files: decoding (WAV, FLAC, OGG/Vorbis, MP3), downmix, resampling to 16 kHz, writing WAV,
//! and the reference repeat-padding. Device playback/recording lives behind the `audio` feature.

pub mod flac_write;
