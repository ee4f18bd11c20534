# Source: email-change.en.txt ⑧ ⑨ and ⑬ ⑭, app-reset.en.txt ⑫ ⑬: 'click "☰" in the upper right
# corner', 'Click "Logout"'. The idle time is the profile's session.idle_seconds.
@manual_email_change
Feature: Logout
  Logging out ends the session: the settings need a new login, with its second factor.

  @LOGOUT @SECOND_FACTOR_REQUIRED
  Scenario: Logging out through the "☰" menu
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered the Authenticator app
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I enter the one-time password the app shows and click "Login"
    Then I am logged in
    When I click "☰" and then "Logout"
    Then I am logged out: the settings ask me to log in again
    When I log in again with my ECS-ID/SPS-ID and password
    Then I am asked for a one-time password

  @SESSION_EXPIRY
  Scenario: A session left idle for the profile's idle time ends
    Given a user with an ECS-ID/SPS-ID and a password and no second factor yet
    And the user has registered the Authenticator app
    When I access the settings page and log in with my ECS-ID/SPS-ID and password
    And I enter the one-time password the app shows and click "Login"
    And the browser is left idle for the profile's idle time
    Then I am logged out: the settings ask me to log in again
