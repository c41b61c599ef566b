mod browser;
mod connecting;
mod google;
mod helpers;
mod http_abuse;
mod pasting;
mod screenshot;
mod status;
