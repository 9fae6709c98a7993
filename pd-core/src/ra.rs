//! Router Solicitation / Advertisement (RFC 4861, 8106, 4191) and the
//! OpenStack RA/address mode table.
