#!/bin/sh
# fieldsync [alert] command: mails the operations team when a site changes
# colour. fieldsyncd runs it without a shell's environment, with:
#   FIELDSYNC_ALERT_FROM      the site whose daemon saw it (e.g. hq)
#   FIELDSYNC_ALERT_SITE      the site that changed (e.g. gao)
#   FIELDSYNC_ALERT_ROLE      self, parent, child, below or courier
#   FIELDSYNC_ALERT_HEALTH    green, amber or red
#   FIELDSYNC_ALERT_PREVIOUS  its colour before
#   FIELDSYNC_ALERT_WHY       the reason, as status shows it
#   FIELDSYNC_ALERT_AS_OF     its newest change held there (UTC), or empty
#   FIELDSYNC_ALERT_LAST_CONTACT  when it was last heard from (UTC), or empty
# Install: copy to /usr/local/bin/fieldsync-alert-mail, set MAILTO below,
# and in fieldsync.conf:  [alert]  command = /usr/local/bin/fieldsync-alert-mail
set -eu
MAILTO=${MAILTO:-ops-fieldsync@example.org}
subject="fieldsync: $FIELDSYNC_ALERT_SITE is $FIELDSYNC_ALERT_HEALTH (seen from $FIELDSYNC_ALERT_FROM)"
body="Site:          $FIELDSYNC_ALERT_SITE ($FIELDSYNC_ALERT_ROLE)
Health:        $FIELDSYNC_ALERT_HEALTH (was $FIELDSYNC_ALERT_PREVIOUS)
Why:           $FIELDSYNC_ALERT_WHY
Data as of:    ${FIELDSYNC_ALERT_AS_OF:-none here}
Last contact:  ${FIELDSYNC_ALERT_LAST_CONTACT:-never}

fieldsync -c /etc/fieldsync/fieldsync.conf status --all-sites shows the rest."
if command -v sendmail >/dev/null 2>&1; then
  printf 'To: %s\nSubject: %s\n\n%s\n' "$MAILTO" "$subject" "$body" | sendmail -t
else
  logger -t fieldsync-alert "$subject: $FIELDSYNC_ALERT_WHY" # no mailer here
fi
