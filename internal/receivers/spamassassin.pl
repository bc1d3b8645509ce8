# Scores each mail named on the command line with SpamAssassin's local
# tests only (as `spamassassin -L`: no DNS, no network rules), no Bayes and
# no user state, and prints one line per mail:
#   <index> TAB <score> TAB <RULE>=<score>,<RULE>=<score>...
# Run by internal/receivers (SpamAssassin.Score); exit 3 when
# Mail::SpamAssassin is not installed.
use strict;
use warnings;

eval { require Mail::SpamAssassin; 1 } or do {
  print STDERR "Mail::SpamAssassin is not installed\n";
  exit 3;
};

my $state = shift @ARGV;
my $sa = Mail::SpamAssassin->new({
  local_tests_only     => 1,
  dont_copy_prefs      => 1,
  userprefs_filename   => '/dev/null',
  userstate_dir        => $state,
  home_dir_for_helpers => $state,
  post_config_text     => "use_bayes 0\nbayes_auto_learn 0\n",
});
$sa->compile_now(0);

my $i = 0;
for my $file (@ARGV) {
  open(my $fh, '<:raw', $file) or die "open mail $i: $!\n";
  my $raw = do { local $/; <$fh> };
  close $fh;
  my $msg = $sa->parse($raw);
  my $status = $sa->check($msg);
  my $hits = $status->get_names_of_tests_hit_with_scores_hash();
  my $rules = join(',', map { "$_=" . $hits->{$_} } sort keys %$hits);
  printf "%d\t%s\t%s\n", $i, $status->get_score(), $rules;
  $status->finish();
  $msg->finish();
  $i++;
}
