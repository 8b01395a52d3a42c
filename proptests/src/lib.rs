//! Property tests live in proptests/tests/.
