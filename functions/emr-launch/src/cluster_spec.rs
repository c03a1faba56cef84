//! The structured parts of a cluster's configuration, read as JSON from environment variables
//! in the shape the EMR API and the AWS CLI use (PascalCase keys), validated, and turned into
//! the SDK's request types.
//!
//! Unknown keys are refused rather than ignored: a misspelt `InstanceCout` must fail the init,
//! not launch a cluster of the default size.

use aws_sdk_emr::types::{
    BootstrapActionConfig, Configuration, InstanceFleetConfig, InstanceFleetType,
    InstanceGroupConfig, InstanceRoleType, InstanceTypeConfig, MarketType,
    ScriptBootstrapActionConfig,
};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One instance group (`EMR_INSTANCE_GROUPS_JSON` is an array of these).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InstanceGroup {
    #[serde(default)]
    pub name: Option<String>,
    pub instance_role: NodeRole,
    pub instance_type: String,
    pub instance_count: i32,
    #[serde(default)]
    pub market: Option<Market>,
    #[serde(default)]
    pub bid_price: Option<String>,
}

/// One instance fleet (`EMR_INSTANCE_FLEETS_JSON` is an array of these).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InstanceFleet {
    #[serde(default)]
    pub name: Option<String>,
    pub instance_fleet_type: NodeRole,
    #[serde(default)]
    pub target_on_demand_capacity: Option<i32>,
    #[serde(default)]
    pub target_spot_capacity: Option<i32>,
    pub instance_type_configs: Vec<FleetInstanceType>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FleetInstanceType {
    pub instance_type: String,
    #[serde(default)]
    pub weighted_capacity: Option<i32>,
    #[serde(default)]
    pub bid_price_as_percentage_of_on_demand_price: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NodeRole {
    Master,
    Core,
    Task,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Market {
    OnDemand,
    Spot,
}

/// A bootstrap action, as the AWS CLI's `--bootstrap-actions` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BootstrapAction {
    pub name: String,
    pub path: String,
    #[serde(default)]
    pub args: Vec<String>,
}

/// An EMR configuration classification (`spark-defaults`, `spark-env`, ...), nestable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ConfigurationSpec {
    pub classification: String,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    #[serde(default)]
    pub configurations: Vec<ConfigurationSpec>,
}

/// Either instance groups or instance fleets: EMR takes one or the other.
#[derive(Debug, Clone, PartialEq)]
pub enum Instances {
    Groups(Vec<InstanceGroup>),
    Fleets(Vec<InstanceFleet>),
}

impl Instances {
    /// One on-demand m5.xlarge master and two m5.xlarge core nodes.
    pub fn default_groups() -> Self {
        let group = |role, count| InstanceGroup {
            name: None,
            instance_role: role,
            instance_type: "m5.xlarge".to_owned(),
            instance_count: count,
            market: Some(Market::OnDemand),
            bid_price: None,
        };
        Instances::Groups(vec![group(NodeRole::Master, 1), group(NodeRole::Core, 2)])
    }

    /// Checks what EMR would refuse only after the call: exactly one master, positive counts.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Instances::Groups(groups) => {
                let masters: Vec<&InstanceGroup> = groups
                    .iter()
                    .filter(|g| g.instance_role == NodeRole::Master)
                    .collect();
                if masters.len() != 1 {
                    return Err(format!(
                        "expected exactly one MASTER instance group, found {}",
                        masters.len()
                    ));
                }
                if !matches!(masters[0].instance_count, 1 | 3) {
                    return Err("the MASTER group must have 1 or 3 instances".to_owned());
                }
                for group in groups {
                    if group.instance_type.trim().is_empty() {
                        return Err("an instance group has an empty InstanceType".to_owned());
                    }
                    if group.instance_count < 1 {
                        return Err(format!(
                            "instance group {:?} must have InstanceCount >= 1",
                            group.instance_role
                        ));
                    }
                    if group.bid_price.is_some() && group.market != Some(Market::Spot) {
                        return Err("BidPrice is only valid with Market SPOT".to_owned());
                    }
                }
            }
            Instances::Fleets(fleets) => {
                let masters = fleets
                    .iter()
                    .filter(|f| f.instance_fleet_type == NodeRole::Master)
                    .count();
                if masters != 1 {
                    return Err(format!(
                        "expected exactly one MASTER instance fleet, found {masters}"
                    ));
                }
                for fleet in fleets {
                    let on_demand = fleet.target_on_demand_capacity.unwrap_or(0);
                    let spot = fleet.target_spot_capacity.unwrap_or(0);
                    if on_demand < 0 || spot < 0 || on_demand + spot < 1 {
                        return Err(format!(
                            "instance fleet {:?} needs a positive TargetOnDemandCapacity or TargetSpotCapacity",
                            fleet.instance_fleet_type
                        ));
                    }
                    if fleet.instance_type_configs.is_empty() {
                        return Err(format!(
                            "instance fleet {:?} has no InstanceTypeConfigs",
                            fleet.instance_fleet_type
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn is_fleets(&self) -> bool {
        matches!(self, Instances::Fleets(_))
    }
}

impl NodeRole {
    fn instance_role(self) -> InstanceRoleType {
        match self {
            NodeRole::Master => InstanceRoleType::Master,
            NodeRole::Core => InstanceRoleType::Core,
            NodeRole::Task => InstanceRoleType::Task,
        }
    }

    fn fleet_type(self) -> InstanceFleetType {
        match self {
            NodeRole::Master => InstanceFleetType::Master,
            NodeRole::Core => InstanceFleetType::Core,
            NodeRole::Task => InstanceFleetType::Task,
        }
    }
}

impl InstanceGroup {
    pub fn to_sdk(&self) -> InstanceGroupConfig {
        InstanceGroupConfig::builder()
            .set_name(self.name.clone())
            .instance_role(self.instance_role.instance_role())
            .instance_type(&self.instance_type)
            .instance_count(self.instance_count)
            .set_market(self.market.map(|market| match market {
                Market::OnDemand => MarketType::OnDemand,
                Market::Spot => MarketType::Spot,
            }))
            .set_bid_price(self.bid_price.clone())
            .build()
    }
}

impl InstanceFleet {
    pub fn to_sdk(&self) -> InstanceFleetConfig {
        InstanceFleetConfig::builder()
            .set_name(self.name.clone())
            .instance_fleet_type(self.instance_fleet_type.fleet_type())
            .set_target_on_demand_capacity(self.target_on_demand_capacity)
            .set_target_spot_capacity(self.target_spot_capacity)
            .set_instance_type_configs(Some(
                self.instance_type_configs
                    .iter()
                    .map(|config| {
                        InstanceTypeConfig::builder()
                            .instance_type(&config.instance_type)
                            .set_weighted_capacity(config.weighted_capacity)
                            .set_bid_price_as_percentage_of_on_demand_price(
                                config.bid_price_as_percentage_of_on_demand_price,
                            )
                            .build()
                    })
                    .collect(),
            ))
            .build()
    }
}

impl BootstrapAction {
    pub fn validate(&self) -> Result<(), String> {
        if !self.path.starts_with("s3://") && !self.path.starts_with("file:/") {
            return Err(format!(
                "bootstrap action {:?}: Path must be an s3:// or file:/ URI",
                self.name
            ));
        }
        Ok(())
    }

    pub fn to_sdk(&self) -> BootstrapActionConfig {
        BootstrapActionConfig::builder()
            .name(&self.name)
            .script_bootstrap_action(
                ScriptBootstrapActionConfig::builder()
                    .path(&self.path)
                    .set_args(Some(self.args.clone()))
                    .build(),
            )
            .build()
    }
}

impl ConfigurationSpec {
    pub fn to_sdk(&self) -> Configuration {
        let mut builder = Configuration::builder().classification(&self.classification);
        if !self.properties.is_empty() {
            builder = builder.set_properties(Some(
                self.properties
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ));
        }
        if !self.configurations.is_empty() {
            builder = builder
                .set_configurations(Some(self.configurations.iter().map(Self::to_sdk).collect()));
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_parse_in_the_api_shape_and_convert() {
        let groups: Vec<InstanceGroup> = serde_json::from_str(
            r#"[{"Name":"primary","InstanceRole":"MASTER","InstanceType":"m6g.xlarge","InstanceCount":1},
                {"InstanceRole":"CORE","InstanceType":"r6g.2xlarge","InstanceCount":4,"Market":"SPOT","BidPrice":"0.40"}]"#,
        )
        .expect("valid");
        let instances = Instances::Groups(groups.clone());
        instances.validate().expect("valid groups");
        let core = groups[1].to_sdk();
        assert_eq!(core.instance_role(), Some(&InstanceRoleType::Core));
        assert_eq!(core.instance_count(), Some(4));
        assert_eq!(core.market(), Some(&MarketType::Spot));
        assert_eq!(core.bid_price(), Some("0.40"));
    }

    #[test]
    fn misspelt_keys_and_bad_shapes_are_refused() {
        assert!(serde_json::from_str::<Vec<InstanceGroup>>(
            r#"[{"InstanceRole":"MASTER","InstanceType":"m5.xlarge","InstanceCout":1}]"#
        )
        .is_err());
        let no_master = Instances::Groups(vec![InstanceGroup {
            name: None,
            instance_role: NodeRole::Core,
            instance_type: "m5.xlarge".into(),
            instance_count: 2,
            market: None,
            bid_price: None,
        }]);
        assert!(no_master.validate().unwrap_err().contains("MASTER"));
        let fleets: Vec<InstanceFleet> = serde_json::from_str(
            r#"[{"InstanceFleetType":"MASTER","TargetOnDemandCapacity":0,"InstanceTypeConfigs":[{"InstanceType":"m5.xlarge"}]}]"#,
        )
        .expect("parses");
        assert!(Instances::Fleets(fleets).validate().is_err());
    }

    #[test]
    fn nested_configurations_convert() {
        let specs: Vec<ConfigurationSpec> = serde_json::from_str(
            r#"[{"Classification":"spark-env","Configurations":[{"Classification":"export","Properties":{"PYSPARK_PYTHON":"/usr/bin/python3"}}]}]"#,
        )
        .expect("valid");
        let sdk = specs[0].to_sdk();
        assert_eq!(sdk.classification(), Some("spark-env"));
        let inner = &sdk.configurations()[0];
        assert_eq!(
            inner.properties().and_then(|p| p.get("PYSPARK_PYTHON")),
            Some(&"/usr/bin/python3".to_owned())
        );
    }
}
