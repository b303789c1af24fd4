/* The signed-in user's own profile: name and phone (UpdateProfile) and password
 * (ChangePassword). The actor is the user acted on. */
#ifndef IDENTITY_PROFILE_H
#define IDENTITY_PROFILE_H

#include "common/rpc_server.h"

us_rpc_handler identity_update_profile;
us_rpc_handler identity_change_password;

#endif
