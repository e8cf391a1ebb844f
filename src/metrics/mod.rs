//! Detection metrics as the ASVspoof references compute them (EER, DET, t-DCF, minDCF/actDCF, CLLR)
//! and score-file I/O.
