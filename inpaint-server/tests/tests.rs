//! Every route and every error of the server, against a real server on 127.0.0.1.

mod api;
mod serving;
mod socket;
mod support;
