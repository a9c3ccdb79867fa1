/* fieldsync — release version. */
#ifndef FIELDSYNC_VERSION_H
#define FIELDSYNC_VERSION_H

#define FSY_VERSION_STRING "0.1.0"

#endif
