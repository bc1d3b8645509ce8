package cognito

// ClientIDNotApplicable is the callerContext.clientId Cognito sends when no
// app client made the request, as for AdminCreateUser (see the sample events
// in AWS Lambda Powertools' parser tests and cognito-local).
const ClientIDNotApplicable = "CLIENT_ID_NOT_APPLICABLE"

// clientIDPattern is Cognito's documented constraint on an app client id
// (the ClientId request parameter of ForgotPassword, ConfirmForgotPassword
// and the other user pool APIs): pattern [\w+]+, length 1 to 128, \w being
// ASCII letters, digits and '_'. A byte loop rather than a regexp compiled
// at package initialisation, which every cold start pays for.
func clientIDPattern(id string) bool {
	if len(id) < 1 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '+':
		default:
			return false
		}
	}
	return true
}

// ValidClientID reports whether id has the shape Cognito documents for an
// app client id. ClientIDNotApplicable has that shape but names no client:
// it is not valid here.
func ValidClientID(id string) bool {
	return id != ClientIDNotApplicable && clientIDPattern(id)
}

// ResetClientID is the app client a reset link names (its cid): the
// client the event was requested through when Cognito says which, else the
// pool's default client (poolDefault, "" when there is none). A client id
// that is empty, ClientIDNotApplicable or not of Cognito's documented shape
// names no client. "" means the link carries no cid.
func ResetClientID(eventClientID, poolDefault string) string {
	if ValidClientID(eventClientID) {
		return eventClientID
	}
	if ValidClientID(poolDefault) {
		return poolDefault
	}
	return ""
}
