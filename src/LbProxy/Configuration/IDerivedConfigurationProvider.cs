namespace LbProxy.Configuration;

/// <summary>
/// A provider of the app's configuration whose keys are derived from the others (the TLS stage's paths to the
/// validated certificate copies Kestrel serves). Left out of candidates and of <see cref="LiveFileConfigurationSource.OperatorView"/>,
/// so that checks read what the operator wrote.
/// </summary>
internal interface IDerivedConfigurationProvider;
