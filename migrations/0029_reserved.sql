-- Reserved: this number belongs to a branch in flight; the integrator replaces this file with it.
select 1;
