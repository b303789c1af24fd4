/* Invites people into an account as a service principal, with libusher-client.
 *
 *   export INVITATION_RPC_URL=tcp://127.0.0.1:7003
 *   export USHER_CALLER_KEY=usk_...     (from `usherctl principals create`)
 *   ./create_invitation ACCOUNT_ID ann@example.com [bob@example.com ...]
 *
 * Prints the batch id, then one line per address: its outcome and the invitation's id.
 * Exits 0 when every address got an invitation, 1 when some did not, 2 when the call
 * failed. Set IDEMPOTENCY_KEY to repeat a run safely: the repeat returns the first
 * run's reply instead of inviting again. Build: make (see Makefile; pkg-config). */
#include <stdio.h>
#include <stdlib.h>

#include <usher/client.h>
#include <usher/v1/invitation.pb-c.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s ACCOUNT_ID EMAIL...\n", argv[0]);
		return 2;
	}
	usher_client_config config = {
		.urls = getenv("INVITATION_RPC_URL"),
		.caller_name = "create-invitation-example",
		/* .caller_key = NULL: USHER_CALLER_KEY or USHER_CALLER_KEY_FILE */
	};
	if (config.urls == NULL) {
		fprintf(stderr, "set INVITATION_RPC_URL to usher-invitationd's address\n");
		return 2;
	}
	usher_client *client;
	usher_status status = {0};
	if (usher_client_open(&config, &client, &status) != USHER_OK) {
		fprintf(stderr, "could not open the client: %s\n", status.message);
		usher_status_clear(&status);
		return 2;
	}

	Usher__V1__Scope organization = USHER__V1__SCOPE__INIT;
	organization.organization = 1;
	Usher__V1__CreateInvitationsRequest request = USHER__V1__CREATE_INVITATIONS_REQUEST__INIT;
	request.account_id = argv[1];
	request.scope = &organization;
	request.role = USHER__V1__ROLE__ROLE_MEMBER;
	request.emails = &argv[2];
	request.n_emails = (size_t)(argc - 2);

	usher_call_opts opts = {
		.deadline_ms = 10000,
		.idempotency_key = getenv("IDEMPOTENCY_KEY"), /* NULL: one made for this call */
	};
	ProtobufCMessage *reply;
	usher_code code = usher_call(client, "usher.v1.InvitationService/CreateInvitations",
	                             &request.base, &usher__v1__create_invitations_reply__descriptor,
	                             &opts, &reply, &status);
	int exit_code = 2;
	if (code == USHER_OK) {
		Usher__V1__CreateInvitationsReply *created = (Usher__V1__CreateInvitationsReply *)reply;
		printf("batch %s\n", created->batch_id);
		for (size_t i = 0; i < created->n_results; i++) {
			const Usher__V1__AddressResult *r = created->results[i];
			const ProtobufCEnumValue *outcome = protobuf_c_enum_descriptor_get_value(
			        &usher__v1__address_outcome__descriptor, (int)r->outcome);
			printf("%s\t%s\t%s%s\n", r->email, outcome ? outcome->name : "?", r->invitation_id,
			       r->reason[0] ? r->reason : "");
		}
		exit_code = created->created == created->n_results ? 0 : 1;
		protobuf_c_message_free_unpacked(reply, NULL);
	} else {
		fprintf(stderr, "CreateInvitations: %s: %s\n", usher_code_name(code), status.message);
		for (size_t i = 0; i < status.n_violations; i++)
			fprintf(stderr, "  %s: %s\n", status.violations[i].field,
			        status.violations[i].description);
	}
	usher_status_clear(&status);
	usher_client_close(client);
	return exit_code;
}
