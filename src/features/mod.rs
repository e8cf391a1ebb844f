//! Front-end features computed with realfft: LFCC (ASVspoof 2021 LFCC-LCNN baseline) and log power /
//! log-mel spectrograms for display.
